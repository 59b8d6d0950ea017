#ifndef DLSWEEP_CGLPK_SHIM_H
#define DLSWEEP_CGLPK_SHIM_H
// GLPK, the GNU Linear Programming Kit (Debian: libglpk-dev; it ships no pkg-config file).
#include <glpk.h>
#endif

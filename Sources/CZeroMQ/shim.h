#ifndef DLSWEEP_CZEROMQ_SHIM_H
#define DLSWEEP_CZEROMQ_SHIM_H
#include <zmq.h>
#endif

// NumPyFiles

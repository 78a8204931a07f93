#ifndef LOSSD_CZEROMQ_SHIM_H
#define LOSSD_CZEROMQ_SHIM_H
#include <zmq.h>
#endif

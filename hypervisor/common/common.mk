# Settings parser shared by the hypervisor and the host tools: part of the
# portable core (built freestanding, with sanitizers, and optimised).
PORTABLE_SRCS += hypervisor/common/domcfg.c

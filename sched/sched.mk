# sched/: the BVT scheduler, part of the portable core (mk/portable.mk).
PORTABLE_SRCS += sched/sched.c sched/sched_check.c

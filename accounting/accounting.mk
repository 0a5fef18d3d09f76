# accounting/: token buckets, usage counters, the management wire format.
# Part of the portable core (mk/portable.mk): every .c here is built
# freestanding and hosted.
PORTABLE_SRCS += $(sort $(wildcard accounting/*.c))

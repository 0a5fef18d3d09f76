# The hosted management-link library: socket and decoder (link.c), the
# sender's replay buffer (replay.c) and the settable domain keys (kv.c).
# Linked by hvsim --serve-link, billingd and hvctl. Included from
# tools/hvsim/hvsim.mk, which needs it first.
LINK_SRCS := tools/link/link.c tools/link/replay.c tools/link/kv.c
LINK_OPT_OBJS := $(LINK_SRCS:%.c=$(B)/opt/%.o)

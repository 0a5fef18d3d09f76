/*
 * The rules of the management-link messages: every range, charset, enum and
 * ordering rule of docs/management-protocol.md section 3, in one place, and
 * the payload size of each message. wire_encode() refuses a message that
 * breaks them and wire_msg_decode() rejects one (wire_msg.c), so both ends
 * of the link agree on exactly one definition of "valid".
 *
 * Size problems (a count above WIRE_MAX_BATCH, args longer than
 * WIRE_ARGS_MAX) are WIRE_REJ_MSG_LENGTH; everything else is
 * WIRE_REJ_MSG_FIELD.
 */
#include "wire.h"

/* ---- Rules ---- */

bool wire_name_valid(const char *s)
{
	uint32_t i;

	for (i = 0; i < WIRE_NAME_FIELD && s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return i >= 1 && i <= WIRE_NAME_MAX;
}

static bool real_domid(domid_t id)
{
	return id != DOMID_HYPERVISOR && id != DOMID_INVALID;
}

static bool sched_ok(const struct wire_sched_params *s)
{
	return s->cpu_weight >= WIRE_WEIGHT_MIN &&
	       s->cpu_weight <= WIRE_WEIGHT_MAX &&
	       s->cpu_cap_pct <= WIRE_CAP_PCT_MAX &&
	       s->warp_us <= WIRE_TIME_PARAM_MAX_US &&
	       s->warp_limit_us <= WIRE_TIME_PARAM_MAX_US &&
	       s->unwarp_us <= WIRE_TIME_PARAM_MAX_US;
}

static bool domain_ok(const struct wire_domain *d)
{
	return real_domid(d->domid) && d->state >= 1 &&
	       d->state <= WIRE_DOM_STATE_MAX && wire_name_valid(d->name) &&
	       d->memory_mb >= 1 && sched_ok(&d->sched);
}

static enum wire_reason domains_check(const struct wire_domain *d,
                                      uint32_t count)
{
	if (count > WIRE_MAX_BATCH)
		return WIRE_REJ_MSG_LENGTH;
	for (uint32_t i = 0; i < count; i++) {
		if (!domain_ok(&d[i]))
			return WIRE_REJ_MSG_FIELD;
		if (i > 0 && d[i].domid <= d[i - 1].domid)
			return WIRE_REJ_MSG_FIELD;
	}
	return WIRE_OK;
}

/* A counter batch; `paged`: next is a cursor (RESP) rather than always
 * DOMID_INVALID (METER). */
static enum wire_reason usage_check(const struct wire_usage *u, bool paged)
{
	if (u->count > WIRE_MAX_BATCH)
		return WIRE_REJ_MSG_LENGTH;
	for (uint32_t i = 0; i < u->count; i++) {
		if (u->e[i].domid == DOMID_INVALID)
			return WIRE_REJ_MSG_FIELD;
		if (i > 0 && u->e[i].domid <= u->e[i - 1].domid)
			return WIRE_REJ_MSG_FIELD;
	}
	if (!paged && u->next != DOMID_INVALID)
		return WIRE_REJ_MSG_FIELD;
	if (paged && u->next != DOMID_INVALID && u->count > 0 &&
	    u->next <= u->e[u->count - 1].domid)
		return WIRE_REJ_MSG_FIELD;
	return WIRE_OK;
}

static enum wire_reason hello_check(const struct wire_hello *h)
{
	if (h->role != WIRE_ROLE_HYPERVISOR && h->role != WIRE_ROLE_CONTROLLER)
		return WIRE_REJ_MSG_FIELD;
	if (h->proto_min < 1 || h->proto_min > h->proto_max)
		return WIRE_REJ_MSG_FIELD;
	if (h->count > WIRE_MAX_BATCH)
		return WIRE_REJ_MSG_LENGTH;
	if (h->count > h->total_domains)
		return WIRE_REJ_MSG_FIELD;
	return domains_check(h->d, h->count);
}

static bool args_ok(const struct wire_create *c)
{
	if (c->args_len > WIRE_ARGS_MAX)
		return false;
	for (uint32_t i = 0; i < c->args_len; i++)
		if (c->args[i] < 0x20 || c->args[i] > 0x7e)
			return false;
	return true;
}

static enum wire_reason cmd_check(const struct wire_cmd *c)
{
	switch (c->op) {
	case WIRE_OP_LIST_DOMAINS:
	case WIRE_OP_GET_USAGE:
		if (c->domid != DOMID_INVALID && c->u.cursor != 0)
			return WIRE_REJ_MSG_FIELD;
		if (c->op == WIRE_OP_LIST_DOMAINS &&
		    c->domid == DOMID_HYPERVISOR)
			return WIRE_REJ_MSG_FIELD;
		return WIRE_OK;
	case WIRE_OP_SET_SHARES:
		if (!real_domid(c->domid) || !sched_ok(&c->u.shares))
			return WIRE_REJ_MSG_FIELD;
		return WIRE_OK;
	case WIRE_OP_SET_IO_LIMITS:
	case WIRE_OP_SET_MEM_LIMITS:
	case WIRE_OP_PAUSE:
	case WIRE_OP_UNPAUSE:
	case WIRE_OP_DESTROY:
		return real_domid(c->domid) ? WIRE_OK : WIRE_REJ_MSG_FIELD;
	case WIRE_OP_CREATE: {
		const struct wire_create *k = &c->u.create;

		if (c->domid != DOMID_INVALID || !wire_name_valid(k->image) ||
		    !wire_name_valid(k->name) || k->memory_mb < 1 ||
		    !sched_ok(&k->sched))
			return WIRE_REJ_MSG_FIELD;
		if (k->args_len > WIRE_ARGS_MAX)
			return WIRE_REJ_MSG_LENGTH;
		return args_ok(k) ? WIRE_OK : WIRE_REJ_MSG_FIELD;
	}
	case WIRE_OP_SHUTDOWN:
		return c->domid == DOMID_INVALID ? WIRE_OK : WIRE_REJ_MSG_FIELD;
	default:
		return WIRE_REJ_MSG_FIELD;
	}
}

static enum wire_reason resp_check(const struct wire_resp *r)
{
	if (r->op < 1 || r->op > WIRE_OP_MAX)
		return WIRE_REJ_MSG_FIELD;
	if (r->status > 0 || r->status < WIRE_STATUS_MIN)
		return WIRE_REJ_MSG_FIELD;
	if (r->status != 0)
		return WIRE_OK;
	switch (r->op) {
	case WIRE_OP_LIST_DOMAINS: {
		const struct wire_domain_list *l = &r->u.list;
		enum wire_reason why = domains_check(l->d, l->count);

		if (why != WIRE_OK)
			return why;
		if (l->next != DOMID_INVALID && l->count > 0 &&
		    l->next <= l->d[l->count - 1].domid)
			return WIRE_REJ_MSG_FIELD;
		return WIRE_OK;
	}
	case WIRE_OP_GET_USAGE:
		return usage_check(&r->u.usage, true);
	case WIRE_OP_CREATE:
		return real_domid(r->u.created) ? WIRE_OK : WIRE_REJ_MSG_FIELD;
	default:
		return WIRE_OK;
	}
}

static bool why_in(uint16_t why, uint16_t lo, uint16_t hi)
{
	return why >= lo && why <= hi;
}

static enum wire_reason event_check(const struct wire_event *e)
{
	bool why_ok;

	if (!real_domid(e->domid) || !wire_name_valid(e->name))
		return WIRE_REJ_MSG_FIELD;
	switch (e->kind) {
	case WIRE_EV_CRASHED:
		why_ok =
		    why_in(e->why, WIRE_WHY_FAULT_DIVIDE, WIRE_WHY_FAULT_OTHER);
		break;
	case WIRE_EV_KILLED:
		why_ok = why_in(e->why, WIRE_WHY_KILL_PRIVILEGED,
		                WIRE_WHY_KILL_ADMIN);
		break;
	case WIRE_EV_QUOTA:
		why_ok = why_in(e->why, WIRE_WHY_QUOTA_CPU_CAP,
		                WIRE_WHY_QUOTA_MEM_MAX);
		break;
	case WIRE_EV_CREATED:
	case WIRE_EV_EXITED:
	case WIRE_EV_DESTROYED:
	case WIRE_EV_PAUSED:
	case WIRE_EV_UNPAUSED:
		why_ok = e->why == WIRE_WHY_NONE;
		break;
	default:
		return WIRE_REJ_MSG_FIELD;
	}
	return why_ok ? WIRE_OK : WIRE_REJ_MSG_FIELD;
}

enum wire_reason wire_msg_check(const struct wire_msg *m)
{
	switch (m->type) {
	case WIRE_HELLO:
		return hello_check(&m->u.hello);
	case WIRE_METER:
		return usage_check(&m->u.meter, false);
	case WIRE_ACK:
		return WIRE_OK;
	case WIRE_CMD:
		return cmd_check(&m->u.cmd);
	case WIRE_RESP:
		return resp_check(&m->u.resp);
	case WIRE_EVENT:
		return event_check(&m->u.event);
	default:
		return WIRE_REJ_UNKNOWN_TYPE;
	}
}

/* ---- Sizes ---- */

static uint32_t cmd_size(const struct wire_cmd *c)
{
	switch (c->op) {
	case WIRE_OP_LIST_DOMAINS:
	case WIRE_OP_GET_USAGE:
		return WIRE_CMD_HEAD_SIZE + 8;
	case WIRE_OP_SET_SHARES:
	case WIRE_OP_SET_IO_LIMITS:
		return WIRE_CMD_HEAD_SIZE + 32;
	case WIRE_OP_SET_MEM_LIMITS:
		return WIRE_CMD_HEAD_SIZE + 24;
	case WIRE_OP_CREATE:
		return WIRE_CREATE_FIXED_SIZE + c->u.create.args_len;
	default:
		return WIRE_CMD_HEAD_SIZE;
	}
}

static uint32_t resp_size(const struct wire_resp *r)
{
	if (r->status != 0)
		return WIRE_RESP_HEAD_SIZE;
	switch (r->op) {
	case WIRE_OP_LIST_DOMAINS:
		return WIRE_RESP_HEAD_SIZE + 8 +
		       r->u.list.count * WIRE_DOMAIN_ENTRY_SIZE;
	case WIRE_OP_GET_USAGE:
		return WIRE_RESP_HEAD_SIZE + WIRE_USAGE_HEAD_SIZE +
		       r->u.usage.count * WIRE_METER_ENTRY_SIZE;
	case WIRE_OP_CREATE:
		return WIRE_RESP_HEAD_SIZE + 8;
	default:
		return WIRE_RESP_HEAD_SIZE;
	}
}

uint32_t wire_msg_size(const struct wire_msg *m)
{
	switch (m->type) {
	case WIRE_HELLO:
		return WIRE_HELLO_HEAD_SIZE +
		       m->u.hello.count * WIRE_DOMAIN_ENTRY_SIZE;
	case WIRE_METER:
		return WIRE_USAGE_HEAD_SIZE +
		       m->u.meter.count * WIRE_METER_ENTRY_SIZE;
	case WIRE_ACK:
		return WIRE_ACK_SIZE;
	case WIRE_CMD:
		return cmd_size(&m->u.cmd);
	case WIRE_RESP:
		return resp_size(&m->u.resp);
	case WIRE_EVENT:
		return WIRE_EVENT_SIZE;
	default:
		return 0;
	}
}

/*
 * Hypercall dispatch: the ABI of hypercall.h, with every argument checked.
 *
 * A hypercall runs on the caller's CPU time. It validates numbers, lengths
 * and pointers before anything else; a refusal returns a negative FS_E* in
 * RAX and changes nothing. Guest memory is reached only through guest_read /
 * guest_write, which check the range against the domain's own memory.
 */
#include "core/lib.h"
#include "core/log.h"
#include "core/run.h"
#include "fs_errors.h"

static int64_t hc_console_write(struct domain *d, uint64_t buf, uint64_t len)
{
	static char tmp[FS_CONSOLE_MAX];
	if (len > FS_CONSOLE_MAX)
		return FS_E2BIG;
	if (!guest_range_ok(d, buf, len))
		return FS_EFAULT;
	if (!tb_consume(&d->console, len, arch_now_ns(), 0)) {
		d->console_dropped += len;
		return FS_EAGAIN;
	}
	guest_read(d, tmp, buf, len);
	log_guest(d->cfg.name, tmp, len);
	return (int64_t)len;
}

static int64_t hc_domain_info(struct domain *d, uint64_t ptr)
{
	struct fs_domain_info info;
	memset(&info, 0, sizeof(info));
	info.domid = d->id;
	info.cpu_weight = d->cfg.sp.cpu_weight;
	info.mem_base = FS_GUEST_BASE;
	info.mem_bytes = d->mem_bytes;
	info.tsc_hz = arch_tsc_hz();
	info.boot_ns = d->created_ns;
	strlcpy_k(info.name, d->cfg.name, sizeof(info.name));
	strlcpy_k(info.args, d->cfg.args, sizeof(info.args));
	return guest_write(d, ptr, &info, sizeof(info));
}

static int64_t hc_report(struct domain *d, uint64_t key, uint64_t klen,
                         uint64_t value, uint64_t flags)
{
	char k[FS_REPORT_KEY_MAX + 1];
	if (flags & ~(uint64_t)FS_REPORT_LIVE)
		return FS_EINVAL;
	if (klen == 0 || klen > FS_REPORT_KEY_MAX)
		return FS_EINVAL;
	if (guest_read(d, k, key, klen))
		return FS_EFAULT;
	k[klen] = 0;
	for (uint64_t i = 0; i < klen; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return FS_EINVAL;
	bool live = flags & FS_REPORT_LIVE;
	if (live && ((value & 7) || !guest_range_ok(d, value, 8)))
		return FS_EFAULT;
	uint32_t i = 0;
	while (i < d->n_kv && !streq(d->kv[i].key, k))
		i++;
	if (i == d->n_kv) {
		if (d->n_kv == FS_REPORT_MAX)
			return FS_ENOMEM;
		d->n_kv++;
		memcpy(d->kv[i].key, k, klen + 1);
	}
	d->kv[i].value = value;
	d->kv[i].live = live;
	return FS_OK;
}

static int64_t hc_shutdown(struct domain *d, uint64_t code, uint64_t msg,
                           uint64_t len)
{
	char m[96];
	if (code > FS_SHUTDOWN_ERROR)
		return FS_EINVAL;
	if (len >= sizeof(m))
		len = sizeof(m) - 1;
	if (guest_read(d, m, msg, len))
		return FS_EFAULT;
	m[len] = 0;
	for (uint64_t i = 0; i < len; i++)
		if (m[i] < 32 || m[i] > 126)
			m[i] = '?';
	domain_exit(d, code, m);
	return 0;
}

bool hypercall(struct domain *d, struct regs *r)
{
	uint64_t nr = r->rax;
	uint64_t a0 = r->rdi, a1 = r->rsi, a2 = r->rdx, a3 = r->r10;
	int64_t ret;
	bool resched = false;
	switch (nr) {
	case FS_HC_CONSOLE_WRITE:
		ret = hc_console_write(d, a0, a1);
		break;
	case FS_HC_YIELD:
		run_yield(d);
		ret = 0;
		resched = true;
		break;
	case FS_HC_BLOCK:
		/* An event raised since the last block is consumed here, so
		 * a guest that checks its ring and then blocks never sleeps
		 * through a completion. */
		if (d->event_pending) {
			d->event_pending = false;
			ret = FS_BLOCK_EVENT;
		} else {
			ret = 0;
			if (a0 > arch_now_ns()) {
				run_block(d, a0);
				resched = true;
			}
		}
		break;
	case FS_HC_TIME:
		ret = (int64_t)arch_now_ns();
		break;
	case FS_HC_DOMAIN_INFO:
		ret = hc_domain_info(d, a0);
		break;
	case FS_HC_SHUTDOWN:
		ret = hc_shutdown(d, a0, a1, a2);
		resched = d->state != DOM_ALIVE;
		break;
	case FS_HC_REPORT:
		ret = hc_report(d, a0, a1, a2, a3);
		break;
	case FS_HC_BLK_SETUP:
		ret = blk_setup(d, a0);
		break;
	case FS_HC_BLK_NOTIFY:
		ret = blk_notify(d);
		resched = d->state != DOM_ALIVE; /* a hostile ring kills */
		break;
	case FS_HC_MEM_INCREASE:
		ret = mem_increase(d, a0, a1, a2);
		break;
	case FS_HC_MEM_DECREASE:
		ret = mem_decrease(d, a0, a1, a2);
		break;
	default:
		ret = FS_ENOSYS;
	}
	r->rax = (uint64_t)ret;
	return resched;
}

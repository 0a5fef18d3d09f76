/*
 * COM2, the management link: a 16550 with interrupt-driven receive and
 * buffered, interrupt-driven transmit. ISA IRQ 3 is routed through the I/O
 * APIC to VEC_LINK on this CPU; the 8259 PICs stay masked.
 *
 * Receive: every interrupt drains the receive FIFO into a ring the core
 * empties from schedule(). Transmit: the core hands whole frames over with
 * arch_link_write(); they wait in a ring and the transmitter-empty
 * interrupt moves up to a FIFO's worth of bytes at a time, so the
 * hypervisor never spins on the UART. Under QEMU the port is a UNIX
 * socket; bytes written while no peer is connected are dropped by QEMU,
 * which the protocol's resend covers.
 */
#include "arch/x86_64/asm.h"
#include "arch/x86_64/io.h"
#include "core/arch.h"

#define IOAPIC_PHYS 0xFEC00000ull
#define IRQ_COM2 3
#define UART_FIFO 16

#define RX_SIZE 65536u /* powers of two */
#define TX_SIZE ARCH_LINK_TX_SIZE

static uint8_t rx[RX_SIZE], tx[TX_SIZE];
static uint32_t rx_head, rx_tail, tx_head, tx_tail; /* free-running */
static uint64_t rx_overruns;
static bool present;

static void ioapic_write(uint32_t reg, uint32_t val)
{
	volatile uint32_t *io = arch_phys_to_virt(IOAPIC_PHYS);
	io[0] = reg;
	io[4] = val;
}

void arch_link_init(void)
{
	uint16_t p = COM2;
	outb(p + 7, 0x5A); /* scratch register: is there a UART at all? */
	if (inb(p + 7) != 0x5A)
		return;
	outb(0x21, 0xFF); /* both PICs masked: the I/O APIC routes */
	outb(0xA1, 0xFF);
	outb(p + 1, 0x00);
	outb(p + 3, 0x80); /* DLAB */
	outb(p + 0, 0x01); /* 115200 baud (QEMU does not pace a socket) */
	outb(p + 1, 0x00);
	outb(p + 3, 0x03); /* 8N1 */
	/* A peer may have connected and written before we got here (QEMU
	 * opens the socket at start-up): keep what the UART holds, the
	 * first byte of its HELLO, before turning the FIFOs on resets them
	 * (QEMU clears both on any change of the FIFO-enable bit). */
	while (inb(p + 5) & 0x01)
		rx[rx_head++ % RX_SIZE] = inb(p);
	outb(p + 2, 0x01); /* FIFOs on, interrupt at 1 byte */
	outb(p + 4, 0x0B); /* DTR, RTS, OUT2 (the IRQ line's gate) */
	/* Redirection entry: level-triggered, active high, fixed, physical
	 * APIC 0. Level, not the ISA default of edge: the UART holds its
	 * line up while any cause is pending, and with edge triggering a
	 * byte that arrives while the handler runs would raise no new edge
	 * and wait for the next interrupt of any kind. */
	ioapic_write(0x10 + 2 * IRQ_COM2 + 1, 0);
	ioapic_write(0x10 + 2 * IRQ_COM2, VEC_LINK | (1u << 15));
	outb(p + 1, 0x03); /* interrupts: data received, transmitter empty */
	present = true;
	arch_link_irq();
}

void arch_link_irq(void);

bool arch_link_present(void)
{
	return present;
}

static void tx_pump(void)
{
	uint16_t p = COM2;
	if (!(inb(p + 5) & 0x20)) /* THR not empty: the interrupt comes */
		return;
	for (int i = 0; i < UART_FIFO && tx_tail != tx_head; i++)
		outb(p, tx[tx_tail++ % TX_SIZE]);
}

void arch_link_irq(void)
{
	uint16_t p = COM2;
	for (int guard = 0; guard < 4096; guard++) {
		uint8_t lsr = inb(p + 5);
		if (!(lsr & 0x01))
			break;
		uint8_t c = inb(p);
		if (rx_head - rx_tail < RX_SIZE)
			rx[rx_head++ % RX_SIZE] = c;
		else
			rx_overruns++;
	}
	(void)inb(p + 2); /* IIR: acknowledges a THRE interrupt */
	tx_pump();
}

size_t arch_link_read(uint8_t *buf, size_t n)
{
	size_t k = 0;
	while (k < n && rx_tail != rx_head)
		buf[k++] = rx[rx_tail++ % RX_SIZE];
	return k;
}

size_t arch_link_tx_free(void)
{
	return TX_SIZE - (tx_head - tx_tail);
}

bool arch_link_write(const uint8_t *buf, size_t n)
{
	if (!present || n > arch_link_tx_free())
		return false;
	for (size_t i = 0; i < n; i++)
		tx[tx_head++ % TX_SIZE] = buf[i];
	tx_pump();
	return true;
}

uint64_t arch_link_rx_overruns(void)
{
	return rx_overruns;
}

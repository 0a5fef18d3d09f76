/* 16550 UART, polled transmit: COM1 is the log console. (COM2, the
 * management link, gets interrupt-driven I/O with the billingd issue.) */
#include "arch/x86_64/io.h"
#include "core/arch.h"

void arch_serial_init(uint16_t port)
{
	outb(port + 1, 0x00); /* no interrupts */
	outb(port + 3, 0x80); /* DLAB */
	outb(port + 0, 0x01); /* 115200 baud */
	outb(port + 1, 0x00);
	outb(port + 3, 0x03); /* 8N1 */
	outb(port + 2, 0xC7); /* FIFO on, cleared */
	outb(port + 4, 0x03); /* DTR, RTS */
}

void arch_serial_putc(uint16_t port, char c)
{
	/* Bounded wait: a wedged UART must not hang the hypervisor. */
	for (int i = 0; i < 100000 && !(inb(port + 5) & 0x20); i++)
		__asm__ volatile("pause");
	outb(port, (uint8_t)c);
}

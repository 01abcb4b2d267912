/* lock.c: the spin lock's one variable (lock.h).
 * Layer: base. */
#include "base/lock.h"

void (*_Atomic corun__lock_spin_hook)(void);

/*
 * time.h — wall-clock time in Unix milliseconds, and its RFC 3339 form
 * ("2026-11-23T01:16:00.123Z"), the only time format the API speaks.
 */
#ifndef MOPS_CORE_TIME_H
#define MOPS_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch. */
int64_t mops_now_ms(void);
/* Microseconds from a monotonic clock, for durations. */
int64_t mops_mono_us(void);
/* CPU time the calling thread has used, in nanoseconds. A system call
 * (the thread CPU clock has no vDSO path): about half a microsecond. */
int64_t mops_thread_cpu_ns(void);
/* The calling thread's CPU clock as its last mops_thread_cpu_ns() read it,
 * without a system call; 0 before the first reading. */
int64_t mops_thread_cpu_last_ns(void);
/* CPU time the calling thread has used since mark or since its last
 * reading, whichever is later, and a new reading. Spans measured this way
 * on one thread never overlap, even when requests interleave. */
int64_t mops_thread_cpu_since(int64_t mark);
/* Format ms as RFC 3339 UTC with milliseconds into buf (>= 25 bytes). */
void mops_time_format(int64_t ms, char *buf, size_t size);
/* Parse RFC 3339 ("2026-11-23T01:16:00Z", optional fraction, Z or +hh:mm).
 * Returns 0 and sets *ms, or MOPS_EINVAL. */
int mops_time_parse(const char *s, int64_t *ms);

#endif

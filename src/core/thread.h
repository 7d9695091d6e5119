/*
 * thread.h - a helper thread that takes no signals: they stay with the
 * process's other threads (the training thread's handlers, the agent's
 * forwarding), whatever the helper is doing (thread.c).
 */
#ifndef LT_CORE_THREAD_H
#define LT_CORE_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread.  Returns 0
 * or pthread_create's error number. */
int lt_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif

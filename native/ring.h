// The waits of a Queue's ring buffer (lib/queues.ts): futex waits on the ring's position words
// with a waiter count beside each word, so a writer or reader enters the kernel to wake only when
// someone sleeps, and RingWatcher, which serves async waits from one thread per watched word.
#pragma once
#include <napi.h>

namespace mp {

void InitRing(Napi::Env env, Napi::Object exports);

}  // namespace mp

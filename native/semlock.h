// The process-shared semaphore / recursive mutex core (CPython's _multiprocessing.SemLock):
// 32 bytes placed in a shared segment. JS takes and returns tokens with Atomics on `value`
// without entering the kernel; native code only parks, wakes and recovers from dead owners.
// A maxvalue-1 lock keeps its holder in the same word: 1 free, -pid held by that process (0: no
// token and no holder, a BoundedSemaphore(1) created empty). Taking and naming the holder are
// then one CAS, so a holder SIGKILLed at any instruction leaves a state a survivor can recover.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>

namespace mp {

// Field order is the contract with lib/synchronize.ts (an Int32Array over the same bytes).
struct SemLockState {
  std::atomic<int32_t> value;      // tokens available, or -pid of a lock's holder; the futex word
  std::atomic<int32_t> sleepers;   // threads parked on `value`: release wakes only when > 0
  int32_t reserved;
  std::atomic<int32_t> owner_tid;  // worker_threads threadId of the holder
  std::atomic<int32_t> count;      // recursion depth of the holder
  int32_t maxvalue;
  int32_t kind;                    // 0 semaphore, 1 recursive mutex
  std::atomic<int32_t> recoveries; // times a dead holder's lock was taken over
};
static_assert(sizeof(SemLockState) == 32, "SemLockState layout is shared with JS");

enum TakeResult : int32_t { kBusy = 0, kTaken = 1, kRecovered = 2 };

// The SemLockState at `offset` of the Segment passed from JS (bounds and alignment checked).
SemLockState* StateArg(const Napi::CallbackInfo& info, size_t index);
// Takes a token, or takes over a lock whose holder process died.
TakeResult TryTake(SemLockState* state);
// True when a maxvalue-1 lock is held by a process that no longer exists.
bool OwnerDied(SemLockState* state);
// Takes a token (spinning briefly, then parking), for at most `timeout_ms` (< 0: no limit): a
// TakeResult, or kInterrupted when `ringable` and this thread's armed bell rang (bell.h).
int32_t TakeBlocking(SemLockState* state, double timeout_ms, bool ringable = false);
// Returns `count` tokens to a semaphore without a bound (a Condition's) and wakes that many sleepers.
void GiveTokens(SemLockState* state, int32_t count);

void InitSemLock(Napi::Env env, Napi::Object exports);

}  // namespace mp

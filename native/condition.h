// A process-shared Condition's wake-ups (CPython's synchronize.Condition): notify hands out tokens
// and, still holding the condition's lock, waits until each woken sleeper has taken its token, so a
// waiter arriving later can never take a wake-up meant for an earlier one.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>

#include "semlock.h"

namespace mp {

constexpr int kSleeperSlots = 30;

// Field order is the contract with lib/synchronize.ts (Int32Arrays over the same bytes).
struct CondState {
  SemLockState wakeups;             // one token per sleeper a notify claimed
  SemLockState woken;               // one acknowledgement per token taken
  std::atomic<int32_t> sleeping;    // sleepers no notify has claimed yet
  std::atomic<int32_t> untracked;   // sleepers of processes that found `by_process` full
  // Sleepers per process, pid << 32 | count in one word: a notify that waits long for a wake-up to
  // be taken finds the sleepers whose process died (SIGKILL) and stops waiting for them.
  std::atomic<uint64_t> by_process[kSleeperSlots];
};
static_assert(sizeof(CondState) == 312, "CondState layout is shared with JS");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "atomics in shared memory must be lock-free");

void InitCondition(Napi::Env env, Napi::Object exports);

}  // namespace mp

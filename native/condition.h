// A process-shared Condition's wake-ups (CPython's synchronize.Condition): notify hands out tokens
// and, still holding the condition's lock, waits until each woken sleeper has taken its token, so a
// waiter arriving later can never take a wake-up meant for an earlier one.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>

#include "semlock.h"

namespace mp {

// Field order is the contract with lib/synchronize.ts (Int32Arrays over the same bytes).
struct CondState {
  SemLockState wakeups;             // one token per sleeper a notify claimed
  SemLockState woken;               // one acknowledgement per token taken
  std::atomic<int32_t> sleeping;    // sleepers no notify has claimed yet
  int32_t reserved;
};
static_assert(sizeof(CondState) == 72, "CondState layout is shared with JS");

void InitCondition(Napi::Env env, Napi::Object exports);

}  // namespace mp

// Spinning before sleeping: on a VM, waking a process whose CPU went idle costs tens of µs (an
// inter-processor interrupt through the hypervisor), far more than a short message's whole trip.
// A side that expects an answer soon keeps its CPU busy for a bounded time instead of sleeping.
#pragma once
#include <napi.h>
#include <poll.h>

#include <cstddef>

namespace mp {

// poll(2) with a zero timeout until one entry is ready or spin_ms passed; poll's count (0: none yet).
int SpinPoll(pollfd* entries, size_t count, double spin_ms);

void InitSpin(Napi::Env env, Napi::Object exports);

}  // namespace mp

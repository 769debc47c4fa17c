// Facts about the machine and the node binary that children run: CPU count and executable path.
#pragma once
#include <napi.h>

namespace mp {
void InitSystem(Napi::Env env, Napi::Object exports);
}

#include <sys/types.h>

#include <cstdint>

namespace mp {
// When `pid` started (clock ticks since boot), or 0 when unknown: with the pid, it names one process
// for good, since pids are reused.
uint64_t ProcessStartTime(pid_t pid);
// True while `pid` exists and is not a zombie: a killed child the parent has not reaped yet is dead.
// With `started` (not 0): only while it is the process that started then.
bool ProcessAlive(pid_t pid, uint64_t started = 0);
}

// Facts about the machine and the node binary that children run: CPU count and executable path.
#pragma once
#include <napi.h>

namespace mp {
void InitSystem(Napi::Env env, Napi::Object exports);
}

#include <sys/types.h>

namespace mp {
// True while `pid` exists and is not a zombie: a killed child the parent has not reaped yet is dead.
bool ProcessAlive(pid_t pid);
}

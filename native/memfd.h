// Large pool payloads as memfd parcels, passed by descriptor and mapped by the receiver (Linux).
#pragma once
#include <napi.h>

namespace mp {
void InitMemfd(Napi::Env env, Napi::Object exports);

// In a fork child, right after fork(2): it holds copies of its parent's views (each parcel counts
// them), and its parent's own parcels are not its to reuse.
void ParcelsAfterFork();
}

// The resource tracker (CPython's resource_tracker): a forked helper that hears of every managed
// segment this process tree uses and of every SharedMemory it creates and, once all of them are
// gone (even by SIGKILL), unlinks the segments left without a live user and the SharedMemory
// blocks never unlinked.
#pragma once
#include <napi.h>

#include <string>

namespace mp {
// Reports one more (`add`) or one less use of segment `name` by this process; starts the tracker
// on first use. Throws CallFailed (errors.h) when the tracker cannot be started.
void TrackSegment(const std::string& name, bool add);
// Registers (`add`) or unregisters a raw segment (a user's SharedMemory), which the tracker unlinks
// when the tree is gone unless it was unregistered first.
void TrackRawSegment(const std::string& name, bool add);
// The same for the socket file of a Listener at an address we made up.
void TrackSocketFile(const std::string& path, bool add);
// Starts this process's tracker now, so that fork children inherit it instead of each starting one.
void EnsureTracker();
// trackerFd() (the write end of this process's tracker pipe, starting the tracker if needed) and
// adoptTracker(fd): a spawn child or the forkserver joins its parent's tree instead of starting its
// own tracker, so a segment it hands over outlives it for as long as the tree lives (CPython passes
// its tracker's fd to spawned children the same way).
void InitResourceTracker(Napi::Env env, Napi::Object exports);
}

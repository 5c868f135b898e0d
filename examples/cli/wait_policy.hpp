// How idle OpenMP threads wait: normgrad's command line makes them sleep (OMP_WAIT_POLICY=PASSIVE)
// unless the user chose otherwise.
//
// libgomp's default spins a waiting thread for a while before it sleeps. On a machine whose cores
// other work also uses, the spinning threads take turns away from the threads doing the work:
// measured here with one busy process beside `train --threads 2`, the mlp's 300 steps took
// 1.77 s instead of 0.52 s unloaded (3.4x), the cnn+BN's 30 steps 3.34 s instead of 1.43 s;
// with PASSIVE 0.67 s and 2.19 s, about what one thread takes under that load (0.60 s, 2.18 s),
// and unloaded no slower (0.56 s and 1.35 s). docs/performance.md has the commands.
//
// libgomp reads OMP_WAIT_POLICY once, when the program is loaded, before main runs, so setting it
// in main is too late: when it is unset, main sets it and starts the program again in the same
// process (execv of /proc/self/exe, same arguments, same process id, so mpirun and signals see
// no difference). Not under valgrind, whose tools would lose the program at the exec.
#pragma once

namespace normgrad::cli {

// Returns only if the program need not (or cannot) start again; call first thing in main.
void prefer_passive_waiting(char** argv);

}  // namespace normgrad::cli

// How idle OpenMP threads wait: normgrad's command line makes them sleep (OMP_WAIT_POLICY=PASSIVE)
// unless the user chose otherwise.
//
// libgomp's default spins a waiting thread for a while before it sleeps. On a machine whose cores
// other work also uses, the spinning threads take turns away from the threads doing the work.
// bench/wait_policy.sh (docs/results/wait-policy.md) measured, with one busy process beside
// `train --threads 2`: the mlp's 300 steps 1.71 s spinning (ACTIVE) and 0.77 s with PASSIVE,
// about one thread's 0.73 s under that load. On an idle machine PASSIVE costs some of the second
// thread's gain (0.67 s against 0.60 s): the price taken for not losing several times over.
// On an AMD EPYC that price is higher (docs/results/wait-policy-amd-epyc.md: the idle mlp 0.43 s
// with PASSIVE against 0.21 s spinning, 0.31 s on one thread) and still taken, since spinning
// beside a busy process cost more than one thread there too (docs/performance.md, section 3).
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

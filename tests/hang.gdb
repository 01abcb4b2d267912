# hang.gdb: what tests/hang.sh prints of a test that hangs, by reading
# memory only (under Valgrind gdb cannot call into a process whose threads
# all wait in system calls, and a call could block on a lock the hang
# holds). Needs the runtime's debug symbols; errors end the script only.
# The tasks and the solo bias come first and the workers' arrays are cut
# short: a CI log may keep only the first lines of a report.
set pagination off
set print pretty on
echo \n--- unfinished tasks: id, name, wait state, reason, home worker, queue link, deadline\n
set $sl = corun__S.slabs
while $sl
  set $i = 0
  while $i < sizeof($sl->task) / sizeof($sl->task[0])
    set $t = &$sl->task[$i]
    if $t->alive
      printf "task %p id %lu", $t, $t->co ? $t->co->id : 0
      if $t->co && $t->co->name
        printf " (%s)", $t->co->name
      end
      printf " wait %d cancelled %d home %p qnext %p timer %ld: ", $t->wait, $t->cancelled, $t->home, $t->qnext, $t->timer_when
      if $t->reason
        printf "%s\n", $t->reason
      else
        printf "(running or runnable)\n"
      end
    end
    set $i = $i + 1
  end
  set $sl = $sl->next
end
echo \n--- the solo bias (src/sched/sched.h: struct corun__solo)\n
print corun__solo
echo \n--- the scheduler (src/sched/worker.h: struct corun__sched)\n
print corun__S
echo \n--- its workers\n
set print elements 8
print *corun__S.w@corun__S.n

// Counts the time-bounded vm runs of tag patterns (the backtracking engine); jest's own module loading also
// calls runInContext, without a timeout. Restore with jest.restoreAllMocks().
import vm from 'node:vm';

export function countBoundedRuns(): () => number {
  const runs = jest.spyOn(vm.Script.prototype, 'runInContext');
  return () => runs.mock.calls.filter(([, options]) => options?.timeout !== undefined).length;
}

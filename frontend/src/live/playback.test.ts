import { describe, expect, it } from "vitest";

import { applyEvents, applySnapshot, EMPTY, highlightOf } from "./playback";

const step = (seq: number, node_id: string, status = "completed") => ({ kind: "step", run: "r1", seq, node_id, node_type: "action.tag", status, run_status: "running", current_node: node_id });

describe("playback of a streamed run", () => {
  const start = applySnapshot(EMPTY, { run: "r1", run_status: "running", current_node: "a", steps: [{ seq: 1, node_id: "start", status: "completed" }] });

  it("adds steps that follow on, in order", () => {
    const { state, gap } = applyEvents(start, [step(2, "wait"), step(3, "email")]);
    expect(gap).toBe(false);
    expect(state.steps.map((s) => s.node_id)).toEqual(["start", "wait", "email"]);
  });

  it("replaces a step sent again (waiting, then completed) instead of adding it", () => {
    const once = applyEvents(start, [step(2, "wait", "waiting")]).state;
    const twice = applyEvents(once, [step(2, "wait", "completed")]).state;
    expect(twice.steps).toHaveLength(2);
    expect(twice.steps[1]?.status).toBe("completed");
  });

  it("sees a gap and applies nothing past it, so no wrong path is drawn", () => {
    const { state, gap } = applyEvents(start, [step(3, "email")]);
    expect(gap).toBe(true);
    expect(state.steps.map((s) => s.node_id)).toEqual(["start"]);
    expect(state.gaps).toBe(1);
  });

  it("ignores another run's events and follows run status messages", () => {
    const { state } = applyEvents(start, [{ ...step(2, "x"), run: "other" }, { kind: "run", run: "r1", run_status: "waiting", current_node: "wait", paused_before: "wait" }]);
    expect(state.steps).toHaveLength(1);
    expect(state.runStatus).toBe("waiting");
    expect(highlightOf(state)).toEqual({ path: ["start"], current: "wait", failed: null });
  });

  it("marks where a failed run stopped", () => {
    const failed = applySnapshot(EMPTY, { run: "r1", run_status: "failed", current_node: "hook", steps: [{ seq: 1, node_id: "start" }, { seq: 2, node_id: "hook", status: "failed" }] });
    expect(highlightOf(failed)).toEqual({ path: ["start", "hook"], current: null, failed: "hook" });
  });
});

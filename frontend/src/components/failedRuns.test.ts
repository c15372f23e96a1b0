import { describe, expect, it } from "vitest";

import { allSelected, doneMessage, keepListed, toggle, toggleAll } from "./failedRuns";

describe("failed runs selection", () => {
  it("toggles one run in and out", () => {
    const one = toggle(new Set(), "a");
    expect([...one]).toEqual(["a"]);
    expect([...toggle(one, "a")]).toEqual([]);
  });

  it("select-all takes every run on the page, then clears them", () => {
    const page = ["a", "b", "c"];
    const some = new Set(["b"]);
    const all = toggleAll(some, page);
    expect(allSelected(all, page)).toBe(true);
    expect([...toggleAll(all, page)]).toEqual([]);
  });

  it("select-all on an empty page selects nothing and is not checked", () => {
    expect(allSelected(new Set(), [])).toBe(false);
    expect([...toggleAll(new Set(), [])]).toEqual([]);
  });

  it("keeps only runs still listed after a reload", () => {
    expect([...keepListed(new Set(["a", "gone"]), ["a", "b"])]).toEqual(["a"]);
  });

  it("says what a bulk action did", () => {
    expect(doneMessage("retry", 1)).toBe("Retried 1 run from the step that failed.");
    expect(doneMessage("discard", 3)).toBe("Discarded 3 runs.");
  });
});

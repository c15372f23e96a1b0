import ELK from "elkjs/lib/elk.bundled.js";
import { describe, expect, it } from "vitest";

import { layout } from "./layout";

const size = { width: 240, height: 96 };

describe("auto-layout", () => {
  it("puts each step below the one before it, without overlaps, branches side by side", async () => {
    const nodes = [
      { id: "start", ...size, handles: ["out"] },
      { id: "wait", ...size, handles: ["received", "timeout"] },
      { id: "thanks", ...size, handles: ["out"] },
      { id: "remind", ...size, handles: ["out"] },
    ];
    const edges = [
      { id: "e1", source: "start", target: "wait" },
      { id: "e2", source: "wait", sourceHandle: "received", target: "thanks" },
      { id: "e3", source: "wait", sourceHandle: "timeout", target: "remind" },
    ];
    const positions = await layout(new ELK(), nodes, edges);
    const at = (id: string) => positions.get(id) as { x: number; y: number };
    expect(at("wait").y).toBeGreaterThanOrEqual(at("start").y + size.height);
    expect(at("thanks").y).toBeGreaterThanOrEqual(at("wait").y + size.height);
    expect(at("thanks").y).toBe(at("remind").y);
    expect(Math.abs(at("thanks").x - at("remind").x)).toBeGreaterThanOrEqual(size.width);
    // handle order is kept: "received" is left of "timeout"
    expect(at("thanks").x).toBeLessThan(at("remind").x);
  });

  it("lays out nodes that nothing connects, and ignores edges to missing nodes", async () => {
    const positions = await layout(
      new ELK(),
      [
        { id: "a", ...size, handles: ["out"] },
        { id: "b", ...size, handles: ["out"] },
      ],
      [{ id: "x", source: "a", target: "ghost" }],
    );
    expect(positions.size).toBe(2);
    const a = positions.get("a")!;
    const b = positions.get("b")!;
    expect(a.x !== b.x || a.y !== b.y).toBe(true);
  });
});

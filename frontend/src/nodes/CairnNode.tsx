/** The one canvas node component: its look from the category, its handles from the catalogue. */

import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";

import { categoryLook, handlesFor, isTrigger } from "../graph/catalogue";
import type { CairnNode as CairnNodeType } from "../graph/convert";
import { summarize } from "../graph/summary";
import { useEditor, useEditorContext } from "../store/context";

function handleLabel(handle: string): string {
  return handle === "out" ? "" : handle;
}

function CairnNodeView({ id, data, selected }: NodeProps<CairnNodeType>) {
  const { catalogue } = useEditorContext();
  const info = catalogue.get(data.nodeType);
  const look = categoryLook(info?.category ?? "unknown");
  const problems = useEditor((state) =>
    state.issues
      .filter((issue) => issue.node === id && issue.severity !== "warning")
      .map((issue) => (issue.field ? `${issue.field}: ${issue.message}` : issue.message))
      .join("\n"),
  );
  const counts = useEditor((state) => state.results?.nodes[id]);
  const showCounts = useEditor((state) => state.results !== null);
  const current = useEditor((state) => state.highlight?.current === id);
  const onPath = useEditor((state) => state.highlight?.path.includes(id) ?? false);
  const failedHere = useEditor((state) => state.highlight?.failed === id);
  const handles = handlesFor(info, data.config);
  const summary = summarize(info, data.config);
  const title = data.label || info?.label || data.nodeType;
  const problemCount = problems ? problems.split("\n").length : 0;
  const classes = ["cairn-node", selected ? "selected" : "", problemCount ? "has-problems" : "", current ? "current" : "", onPath ? "on-path" : "", failedHere ? "failed-here" : ""];

  return (
    <div
      className={classes.filter(Boolean).join(" ")}
      style={{ "--category": look.color } as React.CSSProperties}
      role="group"
      aria-label={`${info?.label ?? data.nodeType}: ${title}`}
      data-node-id={id}
      data-node-type={data.nodeType}
    >
      {!isTrigger(info) && <Handle type="target" position={Position.Top} aria-label={`Input of ${title}`} />}
      <div className="cairn-node-head">
        <span className="cairn-node-icon" aria-hidden="true">
          {look.icon}
        </span>
        <span className="cairn-node-kind">{info?.label ?? `Unknown type ${data.nodeType}`}</span>
        {problemCount > 0 && (
          <span className="cairn-node-badge" title={problems} aria-label={`${problemCount} problem${problemCount > 1 ? "s" : ""}: ${problems}`}>
            {problemCount}
          </span>
        )}
      </div>
      <div className="cairn-node-title">{title}</div>
      <div className="cairn-node-summary" data-testid="node-summary">
        {summary || <span className="muted">{info?.summary ? "Not configured yet" : info?.description}</span>}
      </div>
      {showCounts && (
        <div className="cairn-node-counts" aria-label={`Counts for ${title}`} data-testid="node-counts">
          <span title="Entered">{counts?.entered ?? 0} in</span>
          <span title="Waiting here now">{counts?.waiting ?? 0} waiting</span>
          <span title="Completed">{counts?.completed ?? 0} done</span>
          <span title="Failed" className={counts?.failed ? "failed" : ""}>
            {counts?.failed ?? 0} failed
          </span>
        </div>
      )}
      {handles.length > 0 && (
        <div className="cairn-node-handles">
          {handles.map((handle, index) => (
            <div key={handle} className="cairn-node-handle-label" style={{ left: `${((index + 1) / (handles.length + 1)) * 100}%` }}>
              {handleLabel(handle)}
            </div>
          ))}
        </div>
      )}
      {handles.map((handle, index) => (
        <Handle
          key={handle}
          id={handle}
          type="source"
          position={Position.Bottom}
          style={{ left: `${((index + 1) / (handles.length + 1)) * 100}%` }}
          aria-label={handle === "out" ? `Output of ${title}` : `Output ${handle} of ${title}`}
          data-handle={handle}
        />
      ))}
    </div>
  );
}

export const CairnNode = memo(CairnNodeView);

/** Defined once at module level: a new object would re-mount every node. */
export const nodeTypes = { cairn: CairnNode };

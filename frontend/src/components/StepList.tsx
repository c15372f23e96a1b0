/** The steps of a run or preview, with what each one did (or would have done). */

import type { JsonValue } from "../api/types";
import type { PlaybackStep } from "../live/playback";
import { useEditorContext } from "../store/context";

const isObject = (value: JsonValue | undefined): value is { [key: string]: JsonValue } =>
  !!value && typeof value === "object" && !Array.isArray(value);

function Would({ output }: { output: JsonValue }) {
  if (!isObject(output)) return null;
  const would = output.would;
  const said = typeof output.preview === "string" ? output.preview : null;
  return (
    <>
      {said && <p className="would-said">{said}</p>}
      {isObject(would) && typeof would.subject === "string" && (
        <div className="would-email" aria-label="Email it would send">
          <p>
            <strong>To:</strong> {String(would.to ?? "")}
          </p>
          <p>
            <strong>Subject:</strong> {would.subject}
          </p>
          <pre>{String(would.body ?? "")}</pre>
        </div>
      )}
      {isObject(would) && typeof would.url === "string" && (
        <div className="would-request" aria-label="Request it would send">
          <code>
            {String(would.method ?? "POST")} {would.url}
          </code>
        </div>
      )}
    </>
  );
}

export function StepList({ steps, onSelect }: { steps: PlaybackStep[]; onSelect: (nodeId: string) => void }) {
  const { catalogue, store } = useEditorContext();
  return (
    <ol className="step-list" aria-label="Steps">
      {steps.map((step) => {
        const node = store.getState().nodes.find((candidate) => candidate.id === step.node_id);
        const name = node?.data.label || catalogue.get(step.node_type)?.label || step.node_type;
        return (
          <li key={step.seq} className={`step ${step.status}`} data-step={step.node_id}>
            <button type="button" className="link" onClick={() => onSelect(step.node_id)}>
              {step.seq}. {name}
            </button>{" "}
            <span className={`badge ${step.status}`}>{step.status}</span>
            {step.handle && step.handle !== "out" && <span className="muted"> → {step.handle}</span>}
            {step.error && <p className="field-error">{step.error}</p>}
            <Would output={step.output} />
            {node && (
              <details>
                <summary>Input</summary>
                <pre>{JSON.stringify(node.data.config, null, 2)}</pre>
              </details>
            )}
            <details>
              <summary>Output</summary>
              <pre>{JSON.stringify(step.output, null, 2)}</pre>
            </details>
          </li>
        );
      })}
    </ol>
  );
}

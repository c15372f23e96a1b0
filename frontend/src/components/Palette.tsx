/** The palette: the catalogue grouped by category. Drag an item onto the canvas, or press it to add. */

import { memo, useState } from "react";

import type { NodeTypeInfo } from "../api/types";
import { categoryLook, groupByCategory } from "../graph/catalogue";

export const DRAG_TYPE = "application/x-cairn-node-type";

function PaletteView({ types, onAdd, disabled }: { types: NodeTypeInfo[]; onAdd: (type: string) => void; disabled: boolean }) {
  const [filter, setFilter] = useState("");
  const wanted = filter.trim().toLowerCase();
  const shown = wanted
    ? types.filter((info) => `${info.label} ${info.description} ${info.type}`.toLowerCase().includes(wanted))
    : types;
  return (
    <nav className="palette" aria-label="Steps you can add">
      <input type="search" aria-label="Find a step" placeholder="Find a step…" value={filter} onChange={(event) => setFilter(event.target.value)} />
      {groupByCategory(shown).map(([category, items]) => {
        const look = categoryLook(category);
        return (
          <section key={category} aria-label={look.title}>
            <h3 style={{ color: look.color }}>
              <span aria-hidden="true">{look.icon}</span> {look.title}
            </h3>
            <ul>
              {items.map((info) => (
                <li key={info.type}>
                  <button
                    type="button"
                    className="palette-item"
                    style={{ borderLeftColor: look.color }}
                    draggable={!disabled}
                    disabled={disabled}
                    title={info.description}
                    aria-label={`Add ${info.label}`}
                    data-node-type={info.type}
                    onDragStart={(event) => {
                      event.dataTransfer.setData(DRAG_TYPE, info.type);
                      event.dataTransfer.effectAllowed = "copy";
                    }}
                    onClick={() => onAdd(info.type)}
                  >
                    {info.label}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </nav>
  );
}

export const Palette = memo(PaletteView);

/** The failed-runs page's pure logic: which runs are selected, and what to say after a bulk action. */

export type Selection = ReadonlySet<string>;

export function toggle(selection: Selection, id: string): Set<string> {
  const next = new Set(selection);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}

/** Every run on the page selected? (false for an empty page) */
export function allSelected(selection: Selection, pageIds: string[]): boolean {
  return pageIds.length > 0 && pageIds.every((id) => selection.has(id));
}

/** The select-all box: selects every run on the page, or clears them when all already are. */
export function toggleAll(selection: Selection, pageIds: string[]): Set<string> {
  const next = new Set(selection);
  if (allSelected(selection, pageIds)) for (const id of pageIds) next.delete(id);
  else for (const id of pageIds) next.add(id);
  return next;
}

/** After a reload, only runs still listed stay selected (retried or discarded ones leave the list). */
export function keepListed(selection: Selection, pageIds: string[]): Set<string> {
  const listed = new Set(pageIds);
  return new Set([...selection].filter((id) => listed.has(id)));
}

export function doneMessage(verb: "retry" | "discard", count: number): string {
  const runs = `${count} run${count === 1 ? "" : "s"}`;
  return verb === "retry" ? `Retried ${runs} from the step that failed.` : `Discarded ${runs}.`;
}

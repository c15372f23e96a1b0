/** The keyboard shortcuts, listed in a popover from the toolbar. */

import { Dialog } from "./Dialog";

export const SHORTCUTS: [string, string][] = [
  ["Drag from the palette, or press an item", "Add a step"],
  ["Drag from a node's bottom handle to another node", "Connect"],
  ["Click, Shift+click, or Shift+drag on the canvas", "Select, multi-select"],
  ["Delete / Backspace", "Delete the selection"],
  ["Ctrl/⌘ + D", "Duplicate the selection"],
  ["Ctrl/⌘ + C, Ctrl/⌘ + V", "Copy and paste (also into another workflow)"],
  ["Ctrl/⌘ + A", "Select everything"],
  ["Ctrl/⌘ + Z", "Undo"],
  ["Ctrl/⌘ + Shift + Z, Ctrl/⌘ + Y", "Redo"],
  ["Ctrl/⌘ + S", "Save now"],
  ["Shift + L", "Tidy up (auto-layout)"],
  ["Shift + F", "Fit the workflow in view"],
  ["Escape", "Clear the selection"],
  ["?", "This list"],
];

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  return (
    <Dialog title="Keyboard shortcuts" onClose={onClose}>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map(([keys, action]) => (
            <tr key={keys}>
              <th scope="row">
                <kbd>{keys}</kbd>
              </th>
              <td>{action}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}

/** What the editor's components share: the catalogue, the store and autosave. */

import { createContext, useContext } from "react";
import { useStore } from "zustand";

import type { AppConfig } from "../api/types";
import type { Catalogue } from "../graph/catalogue";
import type { Autosave } from "./autosave";
import type { EditorState, EditorStore } from "./editor";

export interface EditorContextValue {
  store: EditorStore;
  catalogue: Catalogue;
  autosave: Autosave | null;
  readOnly: boolean;
  app: AppConfig | null;
}

export const EditorContext = createContext<EditorContextValue | null>(null);

export function useEditorContext(): EditorContextValue {
  const value = useContext(EditorContext);
  if (!value) throw new Error("useEditorContext outside an EditorContext");
  return value;
}

export function useEditor<T>(selector: (state: EditorState) => T): T {
  return useStore(useEditorContext().store, selector);
}

export const ROLE_RANK = { viewer: 0, editor: 1, publisher: 2, admin: 3 } as const;

export function can(app: AppConfig | null, role: keyof typeof ROLE_RANK): boolean {
  return !!app && ROLE_RANK[app.role] >= ROLE_RANK[role];
}

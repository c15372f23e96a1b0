/** The playback store (a preview or an opened run) shared by the panels and the canvas. */

import { createContext, useContext, useEffect } from "react";
import { useStore } from "zustand";

import { useEditorContext } from "../store/context";
import { createPlaybackStore, highlightOf, type PlaybackState, type PlaybackStore } from "./playback";

export const PlaybackContext = createContext<PlaybackStore | null>(null);

export function usePlaybackStore(): PlaybackStore {
  const store = useContext(PlaybackContext);
  if (!store) throw new Error("usePlaybackStore outside a PlaybackContext");
  return store;
}

export function usePlayback<T>(selector: (state: PlaybackState) => T): T {
  return useStore(usePlaybackStore(), selector);
}

/** While `active`, light the canvas up with what this store plays back. */
export function useHighlightFromPlayback(playback: PlaybackStore, active: boolean): void {
  const { store } = useEditorContext();
  useEffect(() => {
    if (!active) return;
    store.getState().setHighlight(highlightOf(playback.getState()));
    return playback.subscribe((state) => {
      store.getState().setHighlight(highlightOf(state));
    });
  }, [playback, store, active]);
}

export { createPlaybackStore };

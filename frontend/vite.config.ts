/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves the bundle from static/build/ and finds the hashed file names
// through the manifest (builder/templatetags/vite.py); there is no index.html.
export default defineConfig({
  plugins: [react()],
  base: "/static/build/",
  build: {
    outDir: "../static/build",
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: {
        main: "src/main.tsx",
        readonly: "src/readonly.tsx",
        products: "src/products/main.tsx",
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});

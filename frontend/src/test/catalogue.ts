/**
 * The server's node catalogue for unit tests: a snapshot of GET /api/v1/node-types/
 * (tests/builder/test_catalogue_snapshot.py fails when it differs from the live one,
 * and says how to refresh it).
 */

import type { NodeTypeInfo } from "../api/types";
import { indexCatalogue } from "../graph/catalogue";
import snapshot from "./catalogue.json";

export const nodeTypes = snapshot as unknown as NodeTypeInfo[];
export const catalogue = indexCatalogue(nodeTypes);

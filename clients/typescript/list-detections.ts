// Type-checked (never run) against the client types openapi-typescript generates from the live
// /openapi.json into schema.d.ts: the calls a TypeScript user writes first must compile as
// written, optional parameters left out.
import createClient from "openapi-fetch";
import type { components, paths } from "sightline-schema";

type Detection = components["schemas"]["DetectionItem"];
type ErrorCode = components["schemas"]["ErrorCode"];

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });

// Every detection of a video, page after page, without a class filter. (openapi-fetch reads
// tuples in responses as plain arrays, so the items keep the type it gives them.)
export async function allDetections(id: string) {
  const found = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await client.GET("/api/videos/{id}/detections", {
      params: { path: { id }, query: { cursor, confidence: 0.5 } },
    });
    if (error) {
      const code: ErrorCode = error.error;
      throw new Error(`${code}: ${error.message}`);
    }
    found.push(...data.items);
    cursor = data.next_cursor;
  } while (cursor);
  return found;
}

// A box is four numbers, typed as such.
export function describe(d: Detection): string {
  const [x1, y1, x2, y2]: [number, number, number, number] = d.box;
  return `${d.class} ${d.confidence} at ${x1},${y1}-${x2},${y2} (${d.source})`;
}

// Statuses are a closed set.
export async function latestStatus(id: string): Promise<"ready" | "failed" | "interrupted" | "queued" | "processing"> {
  const { data, error } = await client.GET("/api/videos/{id}", { params: { path: { id } } });
  if (error) throw new Error(error.message);
  return data.status;
}

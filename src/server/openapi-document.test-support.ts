import { z } from "zod";
import { buildOpenApiDocument } from "./openapi.ts";

/** The parts of the OpenAPI document the tests read. */
export interface Document {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }
    >
  >;
  webhooks: Record<
    string,
    Record<
      string,
      {
        parameters: { name: string; in: string; required: boolean; schema: { pattern: string } }[];
        requestBody: { content: Record<string, { schema: { $ref: string } }> };
      }
    >
  >;
  components: { schemas: Record<string, object>; securitySchemes: Record<string, object> };
}

/** The document as the server builds it. */
export const doc = buildOpenApiDocument() as unknown as Document;

/** A validator built from the document alone (its JSON Schemas read back), not from our zod code. */
export function documentSchema(ref: string): z.ZodType {
  const defs = JSON.parse(
    JSON.stringify(doc.components.schemas).replaceAll("#/components/schemas/", "#/$defs/"),
  ) as object;
  return z.fromJSONSchema({
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $defs: defs,
    $ref: ref.replace("#/components/schemas/", "#/$defs/"),
  } as never);
}

/** Checks a real response against the schema the document gives for its route, method and status. */
export async function expectDocumented(res: Response, path: string, method: string): Promise<void> {
  const operation = doc.paths[path]?.[method];
  if (operation === undefined) throw new Error(`${method} ${path} is not in the document`);
  const documented = operation.responses[String(res.status)];
  if (documented === undefined)
    throw new Error(`${method} ${path} answered ${res.status}, which the document does not list`);
  const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!;
  const schema = documented.content?.[mediaType]?.schema;
  if (schema?.$ref === undefined)
    throw new Error(`${method} ${path} ${res.status}: no schema for ${mediaType}`);
  const result = documentSchema(schema.$ref).safeParse(await res.json());
  if (!result.success)
    throw new Error(
      `${method} ${path} ${res.status} does not match ${schema.$ref}: ${JSON.stringify(result.error.issues)}`,
    );
}

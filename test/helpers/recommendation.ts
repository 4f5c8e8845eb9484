import { readRecommendationReport } from '../../src/recommend/report-json.js';
import type { Recommendation } from '../../src/recommend/types.js';

/** A recommendation report (`--json`, `--out`: snake_case, schema_version "2") read back into the code's form. */
export function parseRecommendation(text: string): Recommendation {
  return readRecommendationReport(JSON.parse(text), 'the report');
}

/**
 * Names for the statements a process sends again and again, so that each PostgreSQL connection
 * parses, analyses and plans them once (a named prepared statement) instead of on every execution
 * (node-postgres sends an unnamed statement otherwise). Measured on PUT: planning alone was about
 * a quarter of PostgreSQL's CPU per write (docs/benchmarks.md, round 7).
 *
 * Bounded: a text is named on its second sighting, at most `capacity` texts get a name (each is
 * kept by every connection of the pool for its life), and the sightings map is cleared when it
 * grows past four times that, so statements built with varying shapes cannot grow either side.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private readonly sightings = new Map<string, number>();

  constructor(private readonly capacity = 256) {}

  /** The name to prepare `text` under, or undefined to send it unnamed. */
  nameOf(text: string): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined) return name;
    if (this.names.size >= this.capacity || RESULT_FOLLOWS_TABLE.test(text)) return undefined;
    if (!this.sightings.has(text)) {
      if (this.sightings.size >= 4 * this.capacity) this.sightings.clear();
      this.sightings.set(text, 1);
      return undefined;
    }
    this.sightings.delete(text);
    // Unique per process, hence per connection: a name always stands for the one text.
    const assigned = `sv_${this.names.size + 1}`;
    this.names.set(text, assigned);
    return assigned;
  }

  get size(): number {
    return this.names.size;
  }
}

/**
 * `SELECT *`, `SELECT t.*`, `RETURNING *`: the result's columns follow the table's. After another
 * node's migration adds a column, PostgreSQL refuses to run such a prepared statement again
 * ("cached plan must not change result type", 0A000), so these stay unnamed (parsed every time).
 */
const RESULT_FOLLOWS_TABLE = /(?:\bSELECT|\bRETURNING|,)\s*(?:DISTINCT\s+)?(?:\w+\.)?\*/i;

/** Bad input to an estimator: names the field, the row (0-based) when there is one, and the fix. */
export class OpeInputError extends Error {
  readonly field: string;
  readonly row: number | null;

  constructor(field: string, row: number | null, problem: string) {
    super(`${row === null ? "" : `row ${row}: `}${field} ${problem}`);
    this.name = "OpeInputError";
    this.field = field;
    this.row = row;
  }
}

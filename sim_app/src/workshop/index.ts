/** The headless workshop (`npm start`): the run, its HTML report, and the notebooks' helpers. */
export * from "./run";
export * from "./report";
export * from "./notebook";
export * from "./cloud-cost";

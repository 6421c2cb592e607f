export * from "./paths";
export * from "./schema";
export * from "./load";
export * from "./describe";

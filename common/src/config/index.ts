export * from "./paths";

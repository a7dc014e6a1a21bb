// The module vite.config.ts builds from the address metadata (see `addressFormats` there).
declare module "virtual:address-formats" {
  const formats: Record<string, import("./addressFormat").CountryData>;
  export default formats;
}

import { render } from "preact";
import { App } from "./App";
import { firstLanguage, setLanguage } from "./i18n";
import "./style.css";

// The first screen is drawn in this browser's language once its messages are here.
setLanguage(firstLanguage())
  .catch(() => undefined)
  .then(() => render(<App />, document.getElementById("app")!));

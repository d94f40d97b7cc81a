// What the editor page of runner ui takes from CodeMirror (see assets/ui.js, editorPage).
import { EditorView, basicSetup } from "codemirror";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

window.RunnerEditor = { EditorView, basicSetup, yaml, lintGutter, setDiagnostics };

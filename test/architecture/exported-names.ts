/**
 * The names src/ exports: each declared by one module, so a name means one thing wherever it is imported.
 * Read with the TypeScript parser: exported declarations (functions, classes, interfaces, types, enums,
 * variables) and local `export { a as b }` lists; re-exports (`export … from`) and exported imports are the
 * same thing under the same name, not new declarations.
 */
import ts from 'typescript';

/** Names a module's source text declares as exports. */
export function exportedNames(text: string, fileName = 'module.ts'): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const imported = new Set<string>();
  const names: string[] = [];
  const isExported = (node: ts.Node): boolean =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword) && !(ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.name) imported.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) imported.add(e.name.text);
      if (bindings && ts.isNamespaceImport(bindings)) imported.add(bindings.name.text);
    }
  }
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement) && isExported(statement)) {
      for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
    } else if (
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement)) &&
      isExported(statement) &&
      statement.name
    ) {
      names.push(statement.name.text);
    } else if (ts.isExportDeclaration(statement) && !statement.moduleSpecifier && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      for (const e of statement.exportClause.elements) {
        const local = (e.propertyName ?? e.name).text;
        if (!imported.has(local) || e.propertyName) names.push(e.name.text);
      }
    }
  }
  // Overloads declare one function several times.
  return [...new Set(names)];
}

/** Exported name → the files (relative to `root`) that declare it, for names declared by more than one. */
export function duplicateExports(sources: Record<string, string>): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [file, text] of Object.entries(sources)) {
    for (const name of exportedNames(text, file)) owners.set(name, [...(owners.get(name) ?? []), file]);
  }
  return new Map([...owners].filter(([, files]) => files.length > 1));
}

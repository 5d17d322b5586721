// Vite turns imported .css files into linked stylesheets.
declare module "*.css";

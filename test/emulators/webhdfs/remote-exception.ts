/**
 * Errors as the NameNode/DataNode send them: a RemoteException JSON body whose HTTP status
 * follows org.apache.hadoop.hdfs.web.resources.ExceptionHandler (SecurityException and
 * AuthorizationException 403, FileNotFoundException 404, any other IOException 403,
 * UnsupportedOperationException and IllegalArgumentException 400, everything else 500).
 */
export class RemoteError extends Error {
  constructor(
    readonly exception: string,
    readonly javaClassName: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }

  toJson(): string {
    return JSON.stringify({ RemoteException: { exception: this.exception, javaClassName: this.javaClassName, message: this.message } });
  }
}

const make =
  (exception: string, javaClassName: string, status: number) =>
  (message: string): RemoteError =>
    new RemoteError(exception, javaClassName, message, status);

export const fileNotFound = make('FileNotFoundException', 'java.io.FileNotFoundException', 404);
export const fileAlreadyExists = make('FileAlreadyExistsException', 'org.apache.hadoop.fs.FileAlreadyExistsException', 403);
export const parentNotDirectory = make('ParentNotDirectoryException', 'org.apache.hadoop.fs.ParentNotDirectoryException', 403);
export const pathIsNotEmptyDirectory = make('PathIsNotEmptyDirectoryException', 'org.apache.hadoop.fs.PathIsNotEmptyDirectoryException', 403);
export const ioException = make('IOException', 'java.io.IOException', 403);
export const accessControl = make('AccessControlException', 'org.apache.hadoop.security.AccessControlException', 403);
export const invalidToken = make('InvalidToken', 'org.apache.hadoop.security.token.SecretManager$InvalidToken', 403);
export const illegalArgument = make('IllegalArgumentException', 'java.lang.IllegalArgumentException', 400);
export const hadoopIllegalArgument = make('HadoopIllegalArgumentException', 'org.apache.hadoop.HadoopIllegalArgumentException', 400);
export const invalidPath = make('InvalidPathException', 'org.apache.hadoop.fs.InvalidPathException', 400);
export const unsupportedOperation = make('UnsupportedOperationException', 'java.lang.UnsupportedOperationException', 400);
export const pathComponentTooLong = make(
  'PathComponentTooLongException',
  'org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException',
  403,
);
export const runtimeException = make('RuntimeException', 'java.lang.RuntimeException', 500);

/** `Invalid value for webhdfs parameter "<name>": <detail>` (a Jersey ParamException, converted). */
export const invalidParam = (name: string, detail: string): RemoteError =>
  illegalArgument(`Invalid value for webhdfs parameter "${name}": ${detail}`);
